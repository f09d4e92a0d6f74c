analyze tests/data/fx-absurd-numel.h5 --recipe lpmm4 --device cpu
