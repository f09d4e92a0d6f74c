analyze data/sample-early.h5 --quant block-file --device cpu
