analyze data/sample-early.h5 --quant block128-fp8e4m3:b4 --device cpu
