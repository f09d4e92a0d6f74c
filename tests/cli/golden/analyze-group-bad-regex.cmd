analyze data/sample-late.h5 --quant block128-dtree --device cpu --group 'blocks.(0=first'
