analyze data/sample-early.h5 --quant-v block128-log:p1.5 --device cpu
