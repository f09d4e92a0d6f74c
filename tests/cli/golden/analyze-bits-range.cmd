analyze data/sample-early.h5 --quant block128-dtree:b9 --device cpu
