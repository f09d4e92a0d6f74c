analyze tests/data/fx-missing-v.h5 --recipe lpmm4 --device cpu
