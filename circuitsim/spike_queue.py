"""The compiled program's spike queue: each source's synapses as runs of consecutive indices.

Brian2's standalone device queues a spike's synaptic events with ``CSpikeQueue``
(``brianlib/spikequeue.h`` in the build): for every spiking source it reads that source's own
``std::vector`` of synapse indices (one heap block per source), then each synapse's delay from an
array indexed by synapse, and appends the index to the time slot of that delay. In a large circuit
(scale 60: 100,000 neurons, 2.6 million synapses) those reads leave the CPU caches: the queue's
push cost 1.27 ns per neuron-step at scale 60 against 0.26 at scale 1 (``docs/performance.md``,
seventh round).

circuitsim orders each pathway's synapses by source (:mod:`circuitsim.circuit.connectivity`), so
a source's synapses form a few blocks of consecutive indices, one per pathway, each with one
delay. This queue stores exactly that: per source, its *runs* (first synapse index, length, delay
in steps), found once at start-up from the synapses' sources and delays, in index order. A push
appends ``first, first + 1, ...`` of each run to its slot: no per-synapse reads at all, and one
small table per source. Synapses in any order still work (runs of length 1).

Same events in the same order: Brian2's queue appends, spike by spike, each synapse of the source
in increasing index order to the slot of its delay; the runs are in increasing index order too, so
every slot receives the same indices in the same order, and every conductance its additions in
the same order (bitwise-identical spike trains; ``tests/test_spike_queue.py`` compares both queues
event by event, and ``tests/test_reference_spikes.py`` checks the circuit's stored spike trains).

:func:`install` writes it over Brian2's header in a generated build before it is compiled
(:func:`circuitsim.brian_adapter.build_program`). The class keeps Brian2 2.9's interface
(constructor, ``openmp_padding``, ``prepare``, ``push``, ``peek``, ``advance``, the full-state
pair) as ``synapses_classes.h`` uses it.
"""

from __future__ import annotations

import os

#: The marker the installed header carries (tests and :func:`install` look for it).
MARKER = "circuitsim run-based spike queue"

#: Lines Brian2 2.9's own header must contain for this one to replace it (its interface).
EXPECTED = ("class CSpikeQueue", "void push(int32_t *spikes, int nspikes)", "inline vector<int32_t>* peek()",
            "void advance()", "template <typename scalar> void prepare(scalar *real_delays, int n_delays,")

SPIKE_QUEUE_H = r"""// MARKER (circuitsim/spike_queue.py)
#ifndef _CIRCUITSIM_SPIKEQUEUE_H
#define _CIRCUITSIM_SPIKEQUEUE_H
#include <vector>
#include <algorithm>
#include <iterator>
#include <utility>
#include "stdint_compat.h"
using namespace std;

class CSpikeQueue
{
public:
    vector< vector<int32_t> > queue;   // time slots; queue[(offset + d) % size] is d steps ahead
    double dt;
    int offset;
    int32_t source_start;
    int32_t source_end;
    int openmp_padding;
    // per source s (relative to source_start): its runs are run_of_source[s] .. run_of_source[s+1]-1
    vector<int32_t> run_of_source;
    vector<int32_t> run_first;    // first synapse index of the run (openmp_padding included)
    vector<int32_t> run_length;   // consecutive indices in the run
    vector<int32_t> run_delay;    // the run's delay in time steps

    CSpikeQueue(int _source_start, int _source_end)
        : dt(0.0), offset(0), source_start(_source_start), source_end(_source_end), openmp_padding(0)
    {
        queue.resize(1);
    }

    template <typename scalar> void prepare(scalar *real_delays, int n_delays, int32_t *sources,
                                            int n_synapses, double _dt)
    {
        if (dt != 0.0 && dt != _dt)   // a new dt: move the queued events to the new slots
        {
            vector< vector<int32_t> > old = queue;
            const double factor = dt / _dt;
            const size_t old_size = queue.size();
            queue.clear();
            queue.resize((size_t)(old_size * factor) + 1);
            for (size_t k = 0; k < old_size; k++)
                queue[(int)(k * factor + 0.5)] = old[(k + offset) % old_size];
            offset = 0;
        }
        // delays in steps, rounded as Brian2 rounds them
        vector<int32_t> steps(n_delays > 1 ? n_delays : 1, 0);
        for (int k = 0; k < n_delays; k++)
            steps[k] = (int32_t)(real_delays[k] / _dt + 0.5);
        int32_t max_delay = 0;
        for (size_t k = 0; k < steps.size(); k++)
            max_delay = max(max_delay, steps[k]);
        // each source's synapses in index order (a stable counting sort), cut into runs
        const int n_sources = source_end - source_start;
        vector<int32_t> count(n_sources + 1, 0);
        for (int k = 0; k < n_synapses; k++)
            count[sources[k] - source_start + 1]++;
        for (int s = 0; s < n_sources; s++)
            count[s + 1] += count[s];
        vector<int32_t> order(n_synapses);
        {
            vector<int32_t> next(count.begin(), count.end() - 1);
            for (int k = 0; k < n_synapses; k++)
                order[next[sources[k] - source_start]++] = k;
        }
        run_of_source.assign(n_sources + 1, 0);
        run_first.clear();
        run_length.clear();
        run_delay.clear();
        for (int s = 0; s < n_sources; s++)
        {
            run_of_source[s] = (int32_t)run_first.size();
            for (int32_t m = count[s]; m < count[s + 1]; m++)
            {
                const int32_t k = order[m];
                const int32_t d = steps[n_delays > 1 ? k : 0];
                if (m > count[s] && k == run_first.back() - openmp_padding + run_length.back() && d == run_delay.back())
                    run_length.back()++;
                else
                {
                    run_first.push_back(k + openmp_padding);
                    run_length.push_back(1);
                    run_delay.push_back(d);
                }
            }
        }
        run_of_source[n_sources] = (int32_t)run_first.size();
        dt = _dt;
        ensure_delay(max_delay);
    }

    pair<int, vector< vector<int32_t> > > _full_state()
    {
        return pair<int, vector< vector<int32_t> > >(offset, queue);
    }

    void _clear()
    {
    }

    void _restore_from_full_state(const pair<int, vector< vector<int32_t> > > state)
    {
        const vector< vector<int32_t> > &stored = state.second;
        queue.clear();
        queue.resize(stored.empty() ? 1 : stored.size());
        for (size_t k = 0; k < stored.size(); k++)
            queue[k] = stored[k];
        offset = state.first;
    }

    void expand(size_t newsize)
    {
        if (newsize <= queue.size())
            return;
        rotate(queue.begin(), queue.begin() + offset, queue.end());
        offset = 0;
        queue.resize(newsize);
    }

    inline void ensure_delay(int delay)
    {
        if (delay >= (int)queue.size())
            expand(delay + 1);
    }

    void push(int32_t *spikes, int nspikes)
    {
        if (nspikes == 0)
            return;
        // the spikes are sorted: those of this queue's sources
        const int start = (int)distance(spikes, lower_bound(spikes, spikes + nspikes, source_start));
        const int stop = (int)distance(spikes, upper_bound(spikes, spikes + nspikes, source_end - 1));
        const int n_slots = (int)queue.size();
        for (int idx = start; idx < stop; idx++)
        {
            const int s = spikes[idx] - source_start;
            for (int32_t r = run_of_source[s]; r < run_of_source[s + 1]; r++)
            {
                int slot = offset + run_delay[r];
                if (slot >= n_slots)
                    slot -= n_slots;
                vector<int32_t> &q = queue[slot];
                const size_t old = q.size();
                const int32_t first = run_first[r];
                const int32_t n = run_length[r];
                q.resize(old + n);
                int32_t * __restrict out = &q[old];
                for (int32_t m = 0; m < n; m++)
                    out[m] = first + m;
            }
        }
    }

    inline vector<int32_t>* peek()
    {
        return &queue[offset];
    }

    void advance()
    {
        queue[offset].clear();
        offset = (offset + 1) % queue.size();
    }
};
#endif
""".replace("MARKER", MARKER)


def install(directory: str) -> str:
    """Write this queue over Brian2's ``brianlib/spikequeue.h`` in the generated build
    ``directory``; returns the header's path. Raises RuntimeError where Brian2's header does not
    have the interface this one keeps (another Brian2: check it against this class first)."""
    path = os.path.join(directory, "brianlib", "spikequeue.h")
    with open(path) as f:
        text = f.read()
    if MARKER not in text:
        missing = [line for line in EXPECTED if line not in text]
        if missing:
            raise RuntimeError(f"{path}: Brian2's spike queue changed (missing {missing[0]!r}); "
                               "check circuitsim/spike_queue.py against it")
    with open(path, "w") as f:
        f.write(SPIKE_QUEUE_H)
    return path
