analyze tests/data/fx-int.h5 --recipe lpmm4 --device cpu
