analyze tests/data/fx-partial.h5 --recipe lpmm4 --device cpu
