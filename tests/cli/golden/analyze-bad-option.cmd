analyze data/sample-early.h5 --quant block128-dtree:zz --device cpu
