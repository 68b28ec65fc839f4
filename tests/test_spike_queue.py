"""circuitsim's spike queue (circuitsim/spike_queue.py) against Brian2's own, event by event.

Both headers are compiled into the same small C++ driver, which prepares a queue from synapses
with mixed delays (pathway-like blocks ordered by source, as the circuit's, plus blocks in random
order, as a stimulus's may be), pushes random sorted spike sets for many steps and prints every
slot it peeks. The two programs must print the same events in the same order: the order in which
conductances receive their additions, so the order that keeps spike trains bitwise identical.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import brian2

from circuitsim import spike_queue

BRIAN2_QUEUE = Path(brian2.__file__).parent / "synapses" / "cspikequeue.cpp"
STDINT = Path(brian2.__file__).parent / "synapses" / "stdint_compat.h"

DRIVER = r"""
#include <cstdio>
#include <random>
#include <vector>
#include "spikequeue.h"

int main(int argc, char **argv)
{
    const int seed = atoi(argv[1]);
    std::mt19937 gen(seed);
    const int n_neurons = 300, source_start = 40, source_end = 260;   // a queue for a slice of sources
    std::vector<int32_t> sources;
    std::vector<double> delays;
    const double dt = 1e-4;
    // blocks: sorted by source with one delay (the circuit's pathways), and shuffled with per-synapse delays
    for (int block = 0; block < 6; block++)
    {
        std::vector<int32_t> src;
        const int n = 200 + gen() % 400;
        for (int k = 0; k < n; k++)
            src.push_back(source_start + gen() % (source_end - source_start));
        const double block_delay = (1 + gen() % 40) * dt * 1.0000001;
        if (block % 2 == 0)
            std::sort(src.begin(), src.end());
        for (int k = 0; k < n; k++)
        {
            sources.push_back(src[k]);
            delays.push_back(block % 3 == 2 ? (gen() % 60) * dt : block_delay);
        }
    }
    const int scalar = argc > 2;   // one delay for every synapse
    CSpikeQueue q(source_start, source_end);
    q.prepare(&delays[0], scalar ? 1 : (int)delays.size(), &sources[0], (int)sources.size(), dt);
    long total = 0;
    for (int step = 0; step < 400; step++)
    {
        q.advance();
        std::vector<int32_t> spikes;
        for (int i = 0; i < n_neurons; i++)
            if (gen() % 20 == 0)
                spikes.push_back(i);
        q.push(spikes.empty() ? NULL : &spikes[0], (int)spikes.size());
        std::vector<int32_t> *events = q.peek();
        printf("%d:", step);
        for (size_t k = 0; k < events->size(); k++)
            printf(" %d", (*events)[k]);
        printf("\n");
        total += events->size();
    }
    fprintf(stderr, "%ld events\n", total);
    return 0;
}
"""


def _compile(tmp_path: Path, name: str, header: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "spikequeue.h").write_text(header)
    shutil.copy(STDINT, folder / "stdint_compat.h")
    (folder / "driver.cpp").write_text(DRIVER)
    exe = folder / "driver"
    subprocess.run(["g++", "-O2", "-std=c++11", "-I", str(folder), "-o", str(exe), str(folder / "driver.cpp")],
                   check=True, capture_output=True)
    return exe


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (as the standalone device does)")
def test_same_events_in_the_same_order_as_brian2s_queue(tmp_path):
    ours = _compile(tmp_path, "ours", spike_queue.SPIKE_QUEUE_H)
    theirs = _compile(tmp_path, "brian2", BRIAN2_QUEUE.read_text())
    for seed in ("1", "2", "3"):
        for extra in ([], ["scalar"]):
            a = subprocess.run([str(ours), seed, *extra], check=True, capture_output=True, text=True)
            b = subprocess.run([str(theirs), seed, *extra], check=True, capture_output=True, text=True)
            n_events = int(b.stderr.split()[0])
            assert n_events > 10000, "the driver should queue many events"
            assert a.stdout == b.stdout, f"seed {seed} {extra}: the queues differ"


def test_install_replaces_brian2s_header_and_refuses_another_interface(tmp_path):
    lib = tmp_path / "brianlib"
    lib.mkdir()
    header = lib / "spikequeue.h"
    header.write_text(BRIAN2_QUEUE.read_text())
    assert spike_queue.install(str(tmp_path)) == str(header)
    assert spike_queue.MARKER in header.read_text()
    spike_queue.install(str(tmp_path))   # installing twice is harmless
    assert spike_queue.MARKER in header.read_text()
    header.write_text("class CSpikeQueue { };\n")
    with pytest.raises(RuntimeError, match="spike queue changed"):
        spike_queue.install(str(tmp_path))


def test_brian2s_header_still_has_the_interface_this_queue_keeps():
    text = BRIAN2_QUEUE.read_text()
    for line in spike_queue.EXPECTED:
        assert line in text
    assert os.path.getsize(BRIAN2_QUEUE) > 0
