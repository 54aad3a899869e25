#!/usr/bin/perl
# A Snakepit worker in Perl 5, written from docs/protocol.md alone (native
# protocol, core modules only). Commands: ping, echo, upper.
# Needs a 64-bit Perl: the frame id is a uint64, packed with "Q>".
use strict;
use warnings;
use JSON::PP;

my %KIND = (hello => 1, request => 2, response => 3, end => 5, cancel => 8, ping => 9, pong => 10, shutdown => 11);
my ($ERROR, $BINARY, $STREAM) = (0x01, 0x02, 0x04);
my $json = JSON::PP->new->utf8->canonical;    # compact UTF-8 JSON
my $max_frame = $ENV{SNAKEPIT_MAX_FRAME} || 64 * 1024 * 1024;

# The protocol pipes. stdout and stderr go to the host's log, never here.
open(my $in,  '<&=', $ENV{SNAKEPIT_FD_IN}  // 3) or die "fd in: $!";
open(my $out, '>&=', $ENV{SNAKEPIT_FD_OUT} // 4) or die "fd out: $!";
binmode($_, ':raw') for $in, $out;

# Reads exactly $n bytes; undef at end of file.
sub read_exact {
    my ($n, $buf) = ($_[0], '');
    while (length($buf) < $n) {
        my $got = sysread($in, $buf, $n - length($buf), length($buf));
        die "read: $!" unless defined $got;
        return undef if $got == 0;
    }
    return $buf;
}

# Frame: length (of header + payload), kind, flags, reserved (0), id, payload.
sub send_frame {
    my ($kind, $flags, $id, $payload) = @_;
    my $frame = pack('NCCnQ>', 12 + length($payload), $kind, $flags, 0, $id) . $payload;
    while (length $frame) {
        my $put = syswrite($out, $frame);
        die "write: $!" unless defined $put;
        substr($frame, 0, $put) = '';
    }
}

# A protocol error: say why on stderr (the host's log) and stop talking.
sub protocol_error { print STDERR "protocol error: $_[0]\n"; exit 3 }
sub invalid { return ($ERROR, { code => 'InvalidArgument', message => $_[0] }) }
# JSON::PP keeps "1" and 1 apart; encoding shows which one a value is.
sub is_string { defined $_[0] && !ref $_[0] && $json->encode([$_[0]]) =~ /^\["/ }

# Runs one request; returns (response flags, result or error object).
sub handle {
    my ($flags, $payload) = @_;
    return invalid('BINARY requests (byte strings) are not supported') if $flags & $BINARY;
    my $request;
    eval { $request = $json->decode($payload); 1 } or protocol_error('request is not JSON');
    return invalid('a request must be an object with a string "command"')
        unless ref $request eq 'HASH' && is_string($request->{command});
    my ($command, $args) = ($request->{command}, $request->{args} // {});
    return invalid('args must be an object') unless ref $args eq 'HASH';
    return (0, { status => 'ok' }) if $command eq 'ping';
    return (0, $args) if $command eq 'echo';
    if ($command eq 'upper') {
        return invalid('upper needs a string "text"') unless is_string($args->{text});
        return (0, { text => uc $args->{text} });
    }
    return invalid("unknown command $command");
}

send_frame($KIND{hello}, 0, 0, $json->encode(
    { protocol => 1, pid => $$, bridge => 'perl-example', commands => ['echo', 'ping', 'upper'] }));

while (defined(my $header = read_exact(16))) {
    my ($length, $kind, $flags, undef, $id) = unpack('NCCnQ>', $header);
    protocol_error("frame length $length") if $length < 12 || $length > $max_frame;
    protocol_error("unknown flags $flags") if $flags & ~($ERROR | $BINARY | $STREAM);
    my $payload = read_exact($length - 12) // last;
    if    ($kind == $KIND{ping})     { send_frame($KIND{pong}, 0, $id, '') }
    elsif ($kind == $KIND{shutdown}) { last }
    elsif ($kind == $KIND{cancel})   { }    # every command here finishes at once
    elsif ($kind == $KIND{request}) {
        my ($reply_flags, $result) = handle($flags, $payload);
        # A STREAM request gets no chunk: the whole result (or error) goes in `end`.
        my $reply_kind = $flags & $STREAM ? $KIND{end} : $KIND{response};
        my $body = $json->encode($result);
        ($reply_flags, $body) = ($ERROR, '{"code":"ResourceExhausted","message":"result too large"}')
            if 12 + length($body) > $max_frame;    # never send an oversized frame
        send_frame($reply_kind, $reply_flags, $id, $body);
    }
    else { protocol_error("unexpected kind $kind") }    # this worker never calls, so no reply is due
}
exit 0;    # shutdown or end of input
