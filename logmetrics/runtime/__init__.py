"""The runtime: loaded programs and the dispatch of lines through them."""
