analyze data/sample-early.h5 data/sample-late.h5 --recipe lpmm4 --device cpu
