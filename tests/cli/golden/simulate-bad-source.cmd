simulate data/sample-early.h5 --recipe lpmm4 --source magic
