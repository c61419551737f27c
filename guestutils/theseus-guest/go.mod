module theseus/guest

go 1.19
