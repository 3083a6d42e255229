module airoute.dev/bench/streamload

go 1.21
