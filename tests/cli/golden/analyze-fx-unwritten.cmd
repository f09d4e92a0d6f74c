analyze tests/data/fx-unwritten.h5 --recipe lpmm4 --device cpu
