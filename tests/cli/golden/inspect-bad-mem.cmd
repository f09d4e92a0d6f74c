inspect data/sample-early.h5 --mem-limit lots
