analyze data/sample-early.h5 --quant blok128-dtree --device cpu
