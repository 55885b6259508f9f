module styxy.test/goserver

go 1.19
