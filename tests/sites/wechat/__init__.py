"""Fixture WeChat: articles, album pages, Sogou links and bridge feeds served on 127.0.0.1."""
