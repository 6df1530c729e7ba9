/*
 * LD_PRELOAD shim for `make test-valgrind` (nginx only): dlclose() does
 * nothing.  nginx unloads its dynamic modules when a process destroys its
 * cycle at exit; the module's static data is then unmapped, and memory that
 * only a static variable pointed to (per-process caches: settings, keys,
 * tables) would be reported as definitely lost although it was never lost.
 * With the module kept mapped, memcheck reports it as still reachable and
 * only real leaks remain "definitely lost".
 */

int
dlclose(void *handle)
{
    (void) handle;

    return 0;
}
