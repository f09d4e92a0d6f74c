analyze data/sample-early.h5 --recipe lpmm5 --device cpu
