analyze tests/data/fx-absurd-dim.h5 --recipe lpmm4 --device cpu
