analyze tests/data/fx-absurd-sparse.h5 --recipe lpmm4 --device cpu
