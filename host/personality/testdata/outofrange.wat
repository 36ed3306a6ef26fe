;; outofrange.wat: a personality plugin that always answers
;;   {"v":1,"result":{"version":1,"mutationBias":1.7,"resourceHeadroom":-0.2,"canaryPace":0.5}}
;; mutationBias and resourceHeadroom are outside [0, 1]: the host must clamp them and record it.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $live (mut i32) (i32.const 0))
  (func (export "swarm_abi_v1"))
  ;; A bump allocator that resets when every buffer is freed.
  (func $alloc (export "swarm_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.const 65536))
      (then (global.set $heap (local.get $p)) (return (i32.const 0))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func (export "swarm_free") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.le_s (global.get $live) (i32.const 0))
      (then (global.set $live (i32.const 0)) (global.set $heap (i32.const 4096)))))
  (data (i32.const 0) "{\"v\":1,\"result\":{\"version\":1,\"mutationBias\":1.7,\"resourceHeadroom\":-0.2,\"canaryPace\":0.5}}")
  (func (export "swarm_personality_adjust") (param i32 i32) (result i64)
    (local $p i32)
    (local.set $p (call $alloc (i32.const 90)))
    (if (i32.eqz (local.get $p)) (then (return (i64.const 0))))
    (memory.copy (local.get $p) (i32.const 0) (i32.const 90))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.const 90)))
)
