analyze data/sample-early.h5 --quant block128-dtre --device cpu
