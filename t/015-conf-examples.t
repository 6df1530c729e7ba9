# The example configurations in conf/ stay valid: each one passes `nginx -t`
# with the built module (paths rewritten into a temporary directory and a
# self-signed certificate made for the TLS example).  Plain Test::More: no
# server is started.

use strict;
use warnings;
use Test::More;
use File::Temp ();
use Cwd ();

my $nginx  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
$module ||= Cwd::abs_path('objs/ngx_miroir_module.so');

plan skip_all => "module not built ($module)" unless -f $module;

my $tmp = File::Temp::tempdir(CLEANUP => 1);
mkdir "$tmp/logs";

system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test "
       . "-keyout $tmp/key.pem -out $tmp/cert.pem >/dev/null 2>&1") == 0
    or BAIL_OUT("openssl failed");

my @files = sort glob('conf/*.conf');
ok(@files >= 3, "conf/ has at least three example configurations");

for my $f (@files) {
    open my $in, '<', $f or die "$f: $!";
    my $text = do { local $/; <$in> };
    close $in;

    $text =~ s{load_module \S+;}{load_module $module;};
    $text =~ s{/var/lib/miroir|/tmp/miroir/state}{$tmp/state}g;
    $text =~ s{/var/log/nginx/}{$tmp/logs/}g;
    $text =~ s{^user \S+;}{}m;
    $text =~ s{ssl_certificate\s+\S+;}{ssl_certificate $tmp/cert.pem;};
    $text =~ s{ssl_certificate_key\s+\S+;}{ssl_certificate_key $tmp/key.pem;};

    # nginx -t binds the listening sockets: use free loopback ports
    $text =~ s{listen\s+\S+?(?=[\s;])}{'listen 127.0.0.1:' . free_port()}ge;

    (my $name = $f) =~ s{.*/}{};
    open my $out, '>', "$tmp/$name" or die;
    print $out $text;
    close $out;

    my $log = `$nginx -t -q -p $tmp -c $tmp/$name -e $tmp/logs/error.log 2>&1`;
    is($?, 0, "$f passes nginx -t") or diag($log);
}

done_testing();

sub free_port {
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1) or die;
    return $s->sockport;
}
