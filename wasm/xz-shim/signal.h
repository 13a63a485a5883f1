/*
 * Stands in for <signal.h> when liblzma is compiled for wasm32-wasi, which has
 * no signals. xz's mythread.h includes it for a single-threaded helper,
 * mythread_sigmask(), that the decoder never calls; these declarations only
 * let that static inline function compile. Nothing links against them.
 */
#ifndef MINOS_XZ_SHIM_SIGNAL_H
#define MINOS_XZ_SHIM_SIGNAL_H

typedef unsigned long sigset_t;
int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict oset);

#endif
