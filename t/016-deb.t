# The Debian package (bin/make-deb, `make deb`) and the Docker example.
#
# 1. conf/docker-nginx.conf passes `nginx -t` with the built module (node
#    addresses, ports and paths rewritten into a temporary directory), and
#    conf/docker-compose.yml parses as YAML when python3 has the yaml module.
#    Always run (no server is started, nothing is installed).
# 2. The package: built from the module under test, inspected with
#    dpkg-deb, installed with dpkg, loaded by Debian's nginx through
#    /etc/nginx/modules-enabled (`nginx -t` with a temporary prefix, pid and
#    error log: the system configuration and a running nginx are not
#    touched), removed, reinstalled and purged.  This changes the machine
#    while it runs, so it needs root, dpkg-deb and MIROIR_TEST_DEB=1 or CI,
#    and an END block puts the machine back as it was, even on failure.

use strict;
use warnings;
use Test::More;
use File::Temp ();
use Cwd ();

my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
$module ||= 'objs/ngx_miroir_module.so';
$module = Cwd::abs_path($module) if -e $module;

plan skip_all => "module not built ($module)" unless -f $module;

my $PKG  = 'libnginx-mod-http-miroir';
my $SO   = '/usr/lib/nginx/modules/ngx_http_miroir_module.so';
my $AVL  = '/usr/share/nginx/modules-available/mod-http-miroir.conf';
my $LINK = '/etc/nginx/modules-enabled/50-mod-http-miroir.conf';
my $DOC  = "/usr/share/doc/$PKG";

my $tmp = File::Temp::tempdir(CLEANUP => 1);

# ------------------------------------------------------------ docker example

subtest 'conf/docker-nginx.conf passes nginx -t' => sub {
    my $text = slurp('conf/docker-nginx.conf');
    like($text, qr/^load_module modules\/ngx_http_miroir_module\.so;/m,
         'loads the module under its Debian name');
    my @nodes = $text =~ /^\s*node\s+(\S+)\s+\S+/mg;
    is(scalar @nodes, 3, 'three nodes');
    like($text, qr/^\s*replication\s+2;/m, 'replication 2');

    mkdir "$tmp/docker";
    mkdir "$tmp/docker/logs";
    $text =~ s{load_module \S+;}{load_module $module;};
    $text =~ s{^user \S+;}{}m;
    $text =~ s{^pid \S+;}{pid $tmp/docker/nginx.pid;}m;
    $text =~ s{/var/lib/miroir}{$tmp/docker/state}g;
    $text =~ s{(error_log|access_log)\s+/dev/std(?:err|out)}
              {$1 $tmp/docker/logs/$1.log}g;
    # the nodes are Docker-network addresses: loopback ports here
    $text =~ s{^(\s*node\s+\S+\s+)\S+}{$1 . '127.0.0.1:' . free_port()}mge;
    $text =~ s{listen\s+\S+?(?=[\s;])}{'listen 127.0.0.1:' . free_port()}ge;
    spew("$tmp/docker/nginx.conf", $text);

    my $log = `$nginx -t -q -p $tmp/docker/ -c $tmp/docker/nginx.conf -e $tmp/docker/logs/error.log 2>&1`;
    is($?, 0, 'nginx -t') or diag($log);
};

subtest 'conf/docker-compose.yml' => sub {
    my $text = slurp('conf/docker-compose.yml');
    like($text, qr{getmeili/meilisearch:v1\.50}, 'official Meilisearch image');
    like($text, qr{docker-nginx\.conf:/etc/nginx/nginx\.conf}, 'mounts the nginx config');

    my $py = '/usr/bin/python3';
    my $yaml = -x $py && system("$py -c 'import yaml' >/dev/null 2>&1") == 0;
    SKIP: {
    skip('python3 has no yaml module', 5) unless $yaml;
    # Parse it and print the facts checked below, one per line.
    spew("$tmp/compose.py", <<'PY');
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
for name in sorted(svc):
    s = svc[name]
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    vols = [v if isinstance(v, str) else v.get("source", "") + ":" + v.get("target", "")
            for v in s.get("volumes") or []]
    print("service %s image=%s key=%s env=%s volumes=%s" % (
        name, s.get("image", "-"), "yes" if env.get("MEILI_MASTER_KEY") else "no",
        env.get("MEILI_ENV", "-"), ",".join(vols) or "-"))
print("volumes " + " ".join(sorted(doc.get("volumes") or {})))
PY
    my $out = `$py $tmp/compose.py conf/docker-compose.yml 2>&1`;
    is($?, 0, 'parses as YAML') or do { diag($out); last SKIP };
    note($out);

    my @meili = $out =~ /^service (\S+) image=getmeili\/meilisearch:v1\.50 key=yes env=development volumes=(\S+)$/mg;
    is(scalar @meili, 6, 'three Meilisearch services, each with a master key and MEILI_ENV=development')
        or diag($out);
    my %vol;
    for (my $i = 1; $i < @meili; $i += 2) {
        my ($v) = split /:/, $meili[$i];
        $vol{$v}++;
    }
    is(scalar keys %vol, 3, 'a volume each');
    my ($named) = $out =~ /^volumes (.*)$/m;
    ok(!grep({ index(" $named ", " $_ ") < 0 } keys %vol), 'declared as named volumes');
    like($out, qr{^service \S+ image=\S+ .*docker-nginx\.conf:/etc/nginx/nginx\.conf}m,
         'a Miroir service mounts conf/docker-nginx.conf');
    }
};

# ------------------------------------------------------------ the package

my $why;
$why = 'set MIROIR_TEST_DEB=1 (or CI) to install the package'
    unless $ENV{MIROIR_TEST_DEB} || $ENV{CI};
$why ||= 'needs root' if $> != 0;
$why ||= 'needs dpkg-deb' unless have('dpkg-deb') && have('dpkg');
$why ||= "$PKG is already installed: not touching it" if installed();

my (%before, $touched);

SKIP: {
    skip($why, 1) if $why;

    # What "as found" means: checked again once the package is purged.
    %before = state();
    $SIG{INT} = $SIG{TERM} = sub { exit 1 };      # so that END runs

    my $deb = `OUTDIR=$tmp/deb bin/make-deb $module 2>&1`;
    is($?, 0, 'bin/make-deb') or do { diag($deb); last SKIP };
    chomp $deb;
    ($deb) = (split /\n/, $deb)[-1];
    like($deb, qr{/${PKG}_[0-9][^_]*_[a-z0-9]+\.deb$}, "package file name: $deb");

    # -------------------------------------------------- dpkg-deb sanity
    my $arch = `dpkg --print-architecture`; chomp $arch;
    my ($version) = slurp('CHANGELOG.md') =~ /^## \[([0-9]+\.[0-9]+\.[0-9][^\]]*)\]/m;
    $version =~ s/-/~/;
    my $info = `dpkg-deb --info $deb 2>&1`;
    is($?, 0, 'dpkg-deb --info') or diag($info);
    like($info, qr/^ Package: \Q$PKG\E$/m,         'Package');
    like($info, qr/^ Version: \Q$version\E$/m,     "Version $version (CHANGELOG.md)");
    like($info, qr/^ Architecture: \Q$arch\E$/m,   "Architecture $arch");
    like($info, qr/^ Section: httpd$/m,            'Section httpd');
    like($info, qr/^ Maintainer: .+<[^>]+>$/m,     'Maintainer');
    like($info, qr/^ Description: \S.{0,78}$/m,    'Description');
    my ($depends) = $info =~ /^ Depends: (.*)$/m;
    my $abi = abi();
    for my $d ($abi, 'libcjson1', 'libxxhash0') {
        like($depends // '', qr/(^|, )\Q$d\E( |,|$)/, "Depends on $d");
    }
    for my $s (qw(postinst prerm postrm md5sums)) {
        like($info, qr/^ +\d+ bytes, +\d+ lines +\S* +\Q$s\E\b/m, "control: $s");
    }

    my $contents = `dpkg-deb --contents $deb 2>&1`;
    is($?, 0, 'dpkg-deb --contents') or diag($contents);
    for my $f ($SO, $AVL, "$DOC/copyright", "$DOC/changelog.gz") {
        like($contents, qr{^-rw-r--r-- root/root +\d+ \S+ \S+ \.\Q$f\E$}m, "ships $f");
    }
    unlike($contents, qr{ \./etc/}, 'ships nothing in /etc (the link is made by postinst)');

    my $x = "$tmp/x";
    system('dpkg-deb', '-x', $deb, $x) == 0 or BAIL_OUT('dpkg-deb -x');
    is(slurp("$x$AVL"), "load_module modules/ngx_http_miroir_module.so;\n",
       'modules-available: the load_module line');
    like(slurp("$x$DOC/copyright"), qr/^License: Expat$/m, 'copyright: MIT (Expat)');
    my $cl = `gzip -dc $x$DOC/changelog.gz`;
    like($cl, qr/^\Q$PKG\E \(\Q$version\E\) /, 'changelog.gz: newest release first');
    if (have('dpkg-parsechangelog')) {
        spew("$tmp/changelog", $cl);
        my $p = `dpkg-parsechangelog -l $tmp/changelog -S Version 2>&1`;
        is($p, "$version\n", 'changelog.gz parses as a Debian changelog');
    }
    my $ldd = `ldd $x$SO 2>&1`;
    unlike($ldd, qr/not found/, 'the packaged module finds its libraries') or diag($ldd);

    if (have('lintian')) {
        # Informative: warnings do not fail the test, and neither does the
        # placeholder Maintainer address (set DEB_MAINTAINER or DEBEMAIL).
        my $l = `lintian --tag-display-limit 0 $deb 2>&1`;
        note("lintian:\n$l");
        my @e = grep { /^E: / && !/bogus-mail-host/ } split /\n/, $l;
        is_deeply(\@e, [], 'lintian: no error');
    }

    # -------------------------------------------------- install
    $touched = 1;
    my $out = dpkg('-i', $deb);
    is($?, 0, 'dpkg -i') or do { diag($out); last SKIP };
    ok(installed(), "$PKG is installed");
    ok(-f $SO, "$SO installed");
    is(readlink($LINK), $AVL, "postinst enabled it: $LINK");

    # Debian's nginx loads it through modules-enabled.  The prefix is a
    # temporary directory whose modules/ is Debian's, as
    # /usr/share/nginx/modules is.
    my $p = "$tmp/prefix";
    mkdir $p; mkdir "$p/logs";
    symlink('/usr/lib/nginx/modules', "$p/modules") or die "symlink: $!";
    my $conf = <<"CONF";
pid $p/nginx.pid;
error_log $p/logs/error.log;
include /etc/nginx/modules-enabled/*.conf;
events { worker_connections 64; }
http {
    access_log $p/logs/access.log;
    miroir_zone miroir 4m;
    miroir_cluster main {
        shards 64;
        replication 1;
        node n1 127.0.0.1:@{[ free_port() ]};
    }
    server {
        listen 127.0.0.1:@{[ free_port() ]};
        location /         { miroir main; }
        location /_miroir/ { miroir_admin main; }
    }
}
CONF
    spew("$p/nginx.conf", $conf);
    my $t = `$nginx -t -p $p/ -c $p/nginx.conf -e $p/logs/error.log 2>&1`;
    is($?, 0, 'nginx -t: Debian\'s nginx loads the packaged module') or diag($t);
    like($t, qr/test is successful/, 'nginx -t: test is successful');

    (my $bare = $conf) =~ s{^include /etc/nginx/modules-enabled.*\n}{}m;
    spew("$p/bare.conf", $bare);
    $t = `$nginx -t -p $p/ -c $p/bare.conf -e $p/logs/error.log 2>&1`;
    like($t, qr/unknown directive "miroir_zone"/,
         'without modules-enabled the directives are unknown (the package did load it)');

    # -------------------------------------------------- remove, reinstall
    $out = dpkg('-r', $PKG);
    is($?, 0, 'dpkg -r') or diag($out);
    ok(!-e $SO, 'remove: module gone');
    ok(!-l $LINK && -l "$LINK.removed", 'remove: link parked as .removed (as dh_nginx does)');

    $out = dpkg('-i', $deb);
    is($?, 0, 'dpkg -i again') or diag($out);
    is(readlink($LINK), $AVL, 'reinstall after remove: link restored');
    ok(!-l "$LINK.removed", 'reinstall: no .removed left');

    # -------------------------------------------------- purge
    $out = dpkg('--purge', $PKG);
    is($?, 0, 'dpkg --purge') or diag($out);
    ok(!installed(), "$PKG is gone");
    ok(!-e $_ && !-l $_, "purge: $_ gone")
        for $SO, $AVL, $LINK, "$LINK.removed", $DOC;
    is_deeply({ state() }, \%before, 'the machine is as it was');
    $touched = 0;
}

done_testing();

# Whatever happened above: purge the package and drop any link it left.
END {
    local $?;
    return unless $touched;
    my $st = `dpkg-query -W -f='\${db:Status-Status}' $PKG 2>/dev/null`;
    if ($st =~ /\S/ && $st ne 'not-installed') {
        my $out = dpkg('--purge', $PKG);
        print STDERR "# END: dpkg --purge $PKG failed: $out" if $?;
    }
    for my $l ($LINK, "$LINK.removed") {
        unlink $l if -l $l && !$before{"link $l"};
    }
}

# ------------------------------------------------------------ helpers

sub state {
    my %s;
    for my $l ($LINK, "$LINK.removed") {
        $s{"link $l"} = readlink($l) if -l $l;
    }
    if (opendir(my $d, '/etc/nginx/modules-enabled')) {
        $s{'modules-enabled'} = join ' ', sort grep { !/^\.\.?$/ } readdir $d;
    }
    for my $p ('/usr/lib/nginx', '/usr/lib/nginx/modules', '/usr/share/nginx/modules-available', $DOC) {
        $s{"dir $p"} = -d $p ? 1 : 0;
    }
    return %s;
}

sub installed {
    my $st = `dpkg-query -W -f='\${Status}' $PKG 2>/dev/null`;
    return $st =~ /\binstalled$/ && $st !~ /not-installed/;
}

# dpkg, waiting for the lock if another apt or dpkg holds it
sub dpkg {
    my @args = @_;
    my $out;
    for my $try (1 .. 60) {
        $out = `DEBIAN_FRONTEND=noninteractive dpkg @args 2>&1`;
        last unless $? && $out =~ /lock/i;
        sleep 2;
    }
    return $out;
}

sub abi {
    my $f = ($ENV{NGX_SRC} || '/usr/share/nginx/src') . '/debian/libnginx-mod.abisubstvars';
    if (-f $f) {
        my ($abi) = slurp($f) =~ /^nginx:abi=(\S+)/m;
        return $abi if $abi;
    }
    return 'nginx-abi-1.22.1-7';
}

sub have {
    my ($cmd) = @_;
    return !system("command -v $cmd >/dev/null 2>&1");
}

sub slurp {
    my ($f) = @_;
    open my $in, '<', $f or die "$f: $!";
    local $/;
    return scalar <$in>;
}

sub spew {
    my ($f, $text) = @_;
    open my $out, '>', $f or die "$f: $!";
    print $out $text;
    close $out or die "$f: $!";
}

sub free_port {
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1) or die;
    return $s->sockport;
}
