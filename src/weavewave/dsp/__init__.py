"""Signal processing on arrays: loudness and true peak (BS.1770), mastering, resampling."""
