analyze data/sample-early.h5 --device cpu
