package Miroir::Nginx;

# A standalone nginx with the Miroir module for plain Test::More files that
# need a server running while they do more than Test::Nginx blocks allow
# (promtool, a browser, a client library).  Not part of Test::Nginx.
#
#   my $base = Miroir::Nginx::start(http => $http_block_body);
#   ...                                  # talk to $base
#   Miroir::Nginx::stop();               # also automatic (END, signals)
#
# The module comes from TEST_NGINX_LOAD_MODULES, the binary from
# TEST_NGINX_BINARY (default /usr/sbin/nginx).  The http block gets
# "listen 127.0.0.1:PORT" servers from the caller: $PORT in the text is
# replaced by a free port.

use strict;
use warnings;
use Cwd ();
use File::Temp ();
use IO::Socket::INET ();

our ($Dir, $Nginx, $Port);

sub module_path {
    my ($m) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    return $m;
}

# below the ephemeral range, as Test::Nginx::Util::free_port() explains
sub free_port {
    for (1 .. 200) {
        my $port = 20000 + int(rand(12000));
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $port, ReuseAddr => 1)
            or next;
        return $port;
    }
    die "cannot find a free port: $!";
}

sub start {
    my %a = @_;
    $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $module = module_path() or die "TEST_NGINX_LOAD_MODULES not set";
    $Dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$Dir/logs";
    chmod 0755, $Dir;
    $Port = free_port();
    (my $http = $a{http}) =~ s/\$PORT\b/$Port/g;
    my $workers = $a{workers} || 1;

    open my $conf, '>', "$Dir/nginx.conf" or die $!;
    print $conf <<"_EOC_";
load_module $module;
worker_processes $workers;
daemon on;
error_log $Dir/logs/error.log info;
pid $Dir/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $Dir/body;
$http
}
_EOC_
    close $conf;

    # TEST_NGINX_USE_VALGRIND=1: under memcheck, as Test::Nginx::Util does
    my @vg;
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        # nginx's own exit-time leaks, not the module's
        my $supp = $ENV{TEST_NGINX_VALGRIND_SUPP} // do {
            (my $d = Cwd::abs_path(__FILE__)) =~ s{/lib/Miroir/Nginx\.pm$}{};
            "$d/valgrind.supp";
        };
        my $vd = $ENV{TEST_NGINX_VALGRIND_DIR} || "$Dir/logs";
        @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
               '--show-leak-kinds=definite',
               '--errors-for-leak-kinds=definite', '--num-callers=30',
               '--keep-debuginfo=yes',
               (-f $supp ? "--suppressions=$supp" : ()),
               "--log-file=$vd/valgrind.%p.log");
    }
    {
        # make test-valgrind: a shim that keeps the module mapped at exit
        local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_VALGRIND_PRELOAD}
            if @vg && $ENV{TEST_NGINX_VALGRIND_PRELOAD};
        system(@vg, $Nginx, '-p', $Dir, '-c', "$Dir/nginx.conf") == 0
            or die "nginx did not start: " . error_log();
    }

    for (1 .. (@vg ? 1500 : 50)) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$Port");
        last if $s;
        select(undef, undef, undef, 0.05);
    }

    return "http://127.0.0.1:$Port";
}

sub error_log {
    return '' unless $Dir && open my $in, '<', "$Dir/logs/error.log";
    local $/;
    return <$in>;
}

sub stop {
    return unless $Dir && -f "$Dir/logs/nginx.pid";
    system($Nginx, '-p', $Dir, '-c', "$Dir/nginx.conf", '-s', 'stop');
    for (1 .. ($ENV{TEST_NGINX_USE_VALGRIND} ? 1500 : 50)) {
        last unless -f "$Dir/logs/nginx.pid";
        select(undef, undef, undef, 0.05);
    }
}

END { stop() }

$SIG{$_} = sub { stop(); exit 1 } for qw(INT TERM);

1;
