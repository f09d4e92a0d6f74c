analyze data/sample-early.h5 --quant block0-dtree --device cpu
