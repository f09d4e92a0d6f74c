theory --map log
