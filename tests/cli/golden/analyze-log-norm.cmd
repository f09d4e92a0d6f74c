analyze data/sample-early.h5 --quant rank1-log --device cpu
