import ftplib, io
from tests.protocols._ftphelpers import ftpServer  # noqa
from tests.internet import reactormixins
oneReactor = reactormixins.oneReactor

def test_basic(ftpServer):
    (ftpServer.home("alice") / "a.txt").write_bytes(b"hello\nworld\n")
    def work():
        f = ftplib.FTP()
        f.connect("127.0.0.1", ftpServer.port, timeout=10)
        f.login("alice", "secret")
        out = {}
        out["pwd"] = f.pwd()
        out["list"] = []
        f.retrlines("LIST", out["list"].append)
        b = io.BytesIO(); f.retrbinary("RETR a.txt", b.write); out["bin"] = b.getvalue()
        lines = []; f.retrlines("RETR a.txt", lines.append); out["ascii"] = lines
        f.storbinary("STOR b.bin", io.BytesIO(b"x" * 1000000))
        f.storlines("STOR c.txt", io.BytesIO(b"one\r\ntwo\n"))
        out["nlst"] = f.nlst()
        out["mlsd"] = list(f.mlsd())
        out["size"] = f.size("b.bin")
        f.mkd("d"); f.cwd("d"); out["pwd2"] = f.pwd(); f.cwd(".."); f.rmd("d")
        f.rename("b.bin", "e.bin"); f.delete("e.bin")
        f.quit()
        return out
    out = ftpServer.run(work)
    print(out)
    assert out["bin"] == b"hello\nworld\n"
    assert (ftpServer.home("alice") / "c.txt").read_bytes() == b"one\ntwo\n"

import ssl, subprocess
from tests.protocols._ftphelpers import caFile

def test_tls_active(ftpServer, tmp_path):
    (ftpServer.home("alice") / "a.txt").write_bytes(b"hello\nworld\n" * 10000)
    ctx = ssl.create_default_context(cafile=str(caFile(tmp_path)))
    def work():
        f = ftplib.FTP_TLS(context=ctx)
        f.connect("127.0.0.1", ftpServer.port, timeout=10)
        f.login("alice", "secret")
        f.prot_p()
        b = io.BytesIO(); f.retrbinary("RETR a.txt", b.write)
        f.storbinary("STOR up.bin", io.BytesIO(b"y" * 300000))
        f.set_pasv(False)
        b2 = io.BytesIO(); f.retrbinary("RETR a.txt", b2.write)
        f.quit()
        return b.getvalue(), b2.getvalue()
    a, b = ftpServer.run(work)
    assert a == b == b"hello\nworld\n" * 10000
    assert (ftpServer.home("alice") / "up.bin").read_bytes() == b"y" * 300000

def test_curl(ftpServer, tmp_path):
    (ftpServer.home("alice") / "a.txt").write_bytes(b"hello\nworld\n")
    ca = caFile(tmp_path)
    def work():
        r = []
        for extra in ([], ["--ftp-port", "127.0.0.1"], ["--ssl-reqd", "--cacert", str(ca)]):
            p = subprocess.run(["curl", "-sSv", "--max-time", "10", *extra, f"ftp://alice:secret@localhost:{ftpServer.port}/a.txt"], capture_output=True)
            r.append((p.returncode, p.stdout, p.stderr))
        return r
    print(ftpServer.run(work))
