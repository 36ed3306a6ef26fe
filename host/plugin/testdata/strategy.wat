;; strategy.wat
;; A stateful strategy: a counter. init resets it, propose increments it and
;; answers {"count":N}, snapshot answers {"state":N}, restore reads the last
;; run of digits in its request, and observe traps when its request starts with 'U'
;; and grows memory by 13 pages (832 KiB) when it starts with 'G'.
(module

  ;; --- ABI plumbing shared by the test plugins -------------------------
  ;; A bump allocator: swarm_alloc hands out memory from $heap upwards and
  ;; swarm_free counts live buffers; when none is live the heap resets, so
  ;; a call's request and response are reclaimed after the host frees both.
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $live (mut i32) (i32.const 0))
  (func (export "swarm_abi_v1"))
  (func $alloc (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $need i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (if (i32.lt_u (local.get $end) (local.get $p)) (then (return (i32.const 0))))
    (local.set $need (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func $free (export "swarm_free") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.le_s (global.get $live) (i32.const 0))
      (then (global.set $live (i32.const 0)) (global.set $heap (i32.const 4096)))))
  ;; $pack makes the ABI's ptr<<32|len.
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  ;; $const answers a copy of the bytes at [off, off+n).
  (func $const (param $off i32) (param $n i32) (result i64)
    (local $p i32)
    (local.set $p (call $alloc (local.get $n)))
    (if (i32.eqz (local.get $p)) (then (return (i64.const 0))))
    (memory.copy (local.get $p) (local.get $off) (local.get $n))
    (call $pack (local.get $p) (local.get $n)))
  ;; $wrap answers {"v":1,"result":<bytes at [ptr, ptr+len)>}.
  (func $wrap (param $ptr i32) (param $len i32) (result i64)
    (local $out i32) (local $n i32)
    (local.set $n (i32.add (local.get $len) (i32.const 17)))
    (local.set $out (call $alloc (local.get $n)))
    (if (i32.eqz (local.get $out)) (then (return (i64.const 0))))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 16))
    (memory.copy (i32.add (local.get $out) (i32.const 16)) (local.get $ptr) (local.get $len))
    (i32.store8 (i32.add (local.get $out) (i32.sub (local.get $n) (i32.const 1))) (i32.const 125))
    (call $pack (local.get $out) (local.get $n)))
  ;; $itoa writes v (unsigned) in decimal at dst and returns its length.
  (func $itoa (param $v i64) (param $dst i32) (result i32)
    (local $i i32) (local $n i32)
    (local.set $i (i32.const 63))
    (loop $digits
      (i32.store8 (local.get $i) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (local.set $n (i32.sub (i32.const 63) (local.get $i)))
    (memory.copy (local.get $dst) (i32.add (local.get $i) (i32.const 1)) (local.get $n))
    (local.get $n))
  ;; $concat3 answers a ++ decimal(v) ++ b, with a and b given as (off, len).
  (func $concat3 (param $a i32) (param $an i32) (param $v i64) (param $b i32) (param $bn i32) (result i64)
    (local $p i32) (local $n i32)
    (local.set $p (call $alloc (i32.add (i32.add (local.get $an) (local.get $bn)) (i32.const 20))))
    (if (i32.eqz (local.get $p)) (then (return (i64.const 0))))
    (memory.copy (local.get $p) (local.get $a) (local.get $an))
    (local.set $n (call $itoa (local.get $v) (i32.add (local.get $p) (local.get $an))))
    (local.set $n (i32.add (local.get $an) (local.get $n)))
    (memory.copy (i32.add (local.get $p) (local.get $n)) (local.get $b) (local.get $bn))
    (call $pack (local.get $p) (i32.add (local.get $n) (local.get $bn))))
  ;; $first returns the request's first byte (0 when empty).
  (func $first (param $ptr i32) (param $len i32) (result i32)
    (if (result i32) (i32.eqz (local.get $len)) (then (i32.const 0)) (else (i32.load8_u (local.get $ptr)))))

  (data (i32.const 0) "{\"v\":1,\"result\":")
  (data (i32.const 64) "{\"v\":1,\"result\":{\"version\":1}}")
  (data (i32.const 96) "{\"v\":1,\"result\":{\"version\":1,\"count\":")
  (data (i32.const 136) "{\"v\":1,\"result\":{\"version\":1,\"state\":")
  (data (i32.const 176) "}}")

  (global $count (mut i64) (i64.const 0))
  (func (export "swarm_strategy_init") (param $ptr i32) (param $len i32) (result i64)
    (global.set $count (i64.const 0))
    (call $const (i32.const 64) (i32.const 30)))
  (func (export "swarm_strategy_propose") (param $ptr i32) (param $len i32) (result i64)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (call $concat3 (i32.const 96) (i32.const 37) (global.get $count) (i32.const 176) (i32.const 2)))
  (func (export "swarm_strategy_observe") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.eq (call $first (local.get $ptr) (local.get $len)) (i32.const 85)) (then (unreachable)))
    (if (i32.eq (call $first (local.get $ptr) (local.get $len)) (i32.const 71)) (then (drop (memory.grow (i32.const 13)))))
    (call $const (i32.const 64) (i32.const 30)))
  (func (export "swarm_strategy_snapshot") (param $ptr i32) (param $len i32) (result i64)
    (call $concat3 (i32.const 136) (i32.const 37) (global.get $count) (i32.const 176) (i32.const 2)))
  (func (export "swarm_strategy_restore") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $c i32) (local $v i64) (local $mul i64)
    ;; walk back from the end to the last digit, then read the digits backwards
    (local.set $i (i32.add (local.get $ptr) (local.get $len)))
    (block $found (loop $skip
      (br_if $found (i32.le_u (local.get $i) (local.get $ptr)))
      (local.set $c (i32.load8_u (i32.sub (local.get $i) (i32.const 1))))
      (br_if $found (i32.and (i32.ge_u (local.get $c) (i32.const 48)) (i32.le_u (local.get $c) (i32.const 57))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br $skip)))
    (local.set $mul (i64.const 1))
    (block $done (loop $digit
      (br_if $done (i32.le_u (local.get $i) (local.get $ptr)))
      (local.set $c (i32.load8_u (i32.sub (local.get $i) (i32.const 1))))
      (br_if $done (i32.or (i32.lt_u (local.get $c) (i32.const 48)) (i32.gt_u (local.get $c) (i32.const 57))))
      (local.set $v (i64.add (local.get $v) (i64.mul (local.get $mul) (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48))))))
      (local.set $mul (i64.mul (local.get $mul) (i64.const 10)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br $digit)))
    (global.set $count (local.get $v))
    (call $const (i32.const 64) (i32.const 30)))

)
