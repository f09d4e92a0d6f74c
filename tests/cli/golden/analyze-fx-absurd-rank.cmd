analyze tests/data/fx-absurd-rank.h5 --recipe lpmm4 --device cpu
