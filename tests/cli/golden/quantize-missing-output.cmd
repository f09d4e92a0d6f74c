quantize data/sample-early.h5 --recipe lpmm4
