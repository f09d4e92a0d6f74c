analyze tests/data/fx-mismatch.h5 --recipe lpmm4 --device cpu
