analyze data/sample-early.h5 --quant dtree --device cpu
