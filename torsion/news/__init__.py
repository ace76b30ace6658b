"""torsion.news: Usenet news. An NNTP server (nntp.NNTPServer, news.NNTPFactory) over an
on-disk spool (database.NewsSpool), an NNTP client (nntp.NNTPClient), and
``torsiond news`` (tap.py). Documentation: docs/news.md. Tests: tests/news/.
"""
