analyze tests/data/does-not-exist.h5 --recipe lpmm4 --device cpu
