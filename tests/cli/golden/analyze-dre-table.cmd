analyze data/sample-early.h5 --quant block128-dtree:dre --device cpu
