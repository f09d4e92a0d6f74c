analyze data/sample-early.h5 --quant --device cpu
