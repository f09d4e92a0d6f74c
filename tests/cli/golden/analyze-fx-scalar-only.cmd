analyze tests/data/fx-scalar-only.h5 --recipe lpmm4 --device cpu
