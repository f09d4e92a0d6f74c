analyze tests/data/fx-string.h5 --recipe lpmm4 --device cpu
