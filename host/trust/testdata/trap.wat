;; trap.wat: a trust plugin whose swarm_trust_score traps (unreachable).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "swarm_abi_v1"))
  ;; A bump allocator; the plugin never answers, so it never needs to free.
  (func (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then (return (i32.const 0))))
    (local.get $p))
  (func (export "swarm_free") (param i32 i32)
    (global.set $heap (i32.const 4096)))
  (func (export "swarm_trust_score") (param i32 i32) (result i64)
    unreachable)
)
