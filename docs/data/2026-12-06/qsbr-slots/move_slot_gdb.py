"""Print gdb commands that move the thread in QSBR slot FROM to the free slot TO (CPython 3.13t).

Usage: gdb -batch -p PID -x <(python move_slot_gdb.py FROM TO) python3.13t
Only while the threads wait (detached); a diagnostic, not for anything that must keep running.
"""

import sys

src, dst = int(sys.argv[1]), int(sys.argv[2])
LIST = ('printf "tstate %p native %lu slot %ld\\n", $t, $t->native_thread_id, '
        '(long)((char*)((_PyThreadStateImpl*)$t)->qsbr - (char*)$arr)/sizeof(struct _qsbr_pad)')
print(f"""set pagination off
set $s = &_PyRuntime._main_interpreter.qsbr
set $arr = (struct _qsbr_pad*)$s->array
set $t = _PyRuntime._main_interpreter.threads.head
set $w = 0
while $t
  if ((_PyThreadStateImpl*)$t)->qsbr == &$arr[{src}].qsbr
    set $w = $t
  end
  set $t = $t->next
end
printf "moving tstate %p from slot {src} to {dst}\\n", $w
set $prev = 0
set $e = $s->freelist
while $e != &$arr[{dst}].qsbr
  set $prev = $e
  set $e = $e->freelist_next
end
if $prev
  set $prev->freelist_next = $e->freelist_next
else
  set $s->freelist = $e->freelist_next
end
set $arr[{dst}].qsbr.shared = $s
set $arr[{dst}].qsbr.tstate = $w
set $arr[{dst}].qsbr.allocated = 1
set $arr[{dst}].qsbr.seq = 0
set $arr[{dst}].qsbr.freelist_next = 0
set ((_PyThreadStateImpl*)$w)->qsbr = &$arr[{dst}].qsbr
set $t = _PyRuntime._main_interpreter.threads.head
while $t
  {LIST}
  set $t = $t->next
end""")
