using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// Every validation error of the engine: a typed exception whose message names what is wrong, and a network that still works after it.
public class ValidationTests
{
    private static Network Small(int steps = 5)
    {
        var net = new Network { Steps = steps, BatchSize = 2 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(), "I", "L");
        net.Add("L", new Lif(2));
        net.MarkOutput("L");
        return net;
    }

    private static void StillRuns(Network net)
    {
        var r = net.Run(torch.ones(2, net.Steps, 3));
        Assert.That(r["L"].shape, Is.EqualTo(new long[] { 2, net.Steps, 2 }), "a correct run right after the error works");
    }

    [Test]
    public void DuplicateTag()
    {
        var net = Small();
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Add("L", new Lif(4)));
        Assert.That(e!.Message, Does.Contain("'L'").And.Contain("already used"));
        StillRuns(net);
    }

    [Test]
    public void UnknownTagInConnection()
    {
        var net = Small();
        net.Connect("L", "Nowhere");
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("Nowhere").And.Contain("unknown target"));
        Assert.Throws<NetworkConfigurationException>(() => net.Remove("Nowhere"));
    }

    [Test]
    public void UnknownOutputTag()
    {
        var net = Small();
        net.MarkOutput("X");
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("'X'"));
    }

    [Test]
    public void DanglingSynapse()
    {
        var net = Small();
        net.Add("S2", new Dense());
        net.Connect("L", "S2");
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("S2").And.Contain("0 target(s)"));
        net.Remove("S2");
        StillRuns(net);
    }

    [Test]
    public void ShapeMismatch()
    {
        var net = new Network { Steps = 3 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Lif(5));
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("'S'").And.Contain("3 sources to 5 targets"));

        var net2 = new Network { Steps = 3 };
        net2.Add("A", new Lif(3));
        net2.Add("B", new Lif(4));
        net2.Connect("A", "B");
        var e2 = Assert.Throws<NetworkConfigurationException>(() => net2.Initialize());
        Assert.That(e2!.Message, Does.Contain("A -> B").And.Contain("3 components").And.Contain("4"));
    }

    [TestCase(0.0)]
    [TestCase(-1e-3)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void BadDt(double dt)
    {
        var net = Small();
        net.Dt = dt;
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("dt"));
        net.Dt = 1e-3;
        StillRuns(net);
    }

    [TestCase(0)]
    [TestCase(-3)]
    public void BadSteps(int steps)
    {
        var net = Small();
        net.Steps = steps;
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("steps"));
        net.Steps = 5;
        StillRuns(net);
    }

    [Test]
    public void BadScheduleSegments()
    {
        Assert.Throws<NetworkConfigurationException>(() => new Schedule(Array.Empty<Segment>()));
        var e = Assert.Throws<NetworkConfigurationException>(() => new Schedule((1e-3, 10), (1e-3, 0)));
        Assert.That(e!.Message, Does.Contain("segment 1").And.Contain("empty"));
        Assert.Throws<NetworkConfigurationException>(() => new Schedule((-1e-3, 10)));
    }

    [Test]
    public void ParameterTensorOfWrongShapeNamesGroupParameterAndShapes()
    {
        var net = Small();
        net.Set("L", "tau", torch.ones(3) * 0.01); // L has 2 neurons
        var e = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That(e!.Group, Is.EqualTo("L"));
        Assert.That(e.Parameter, Is.EqualTo("tau"));
        Assert.That(e.Message, Does.Contain("[2, 2]").And.Contain("[3]"));
        net.Set("L", "tau", 0.01);
        StillRuns(net);
    }

    [Test]
    public void ParameterOutOfRangeOnAnInitializedNetworkKeepsTheOldValue()
    {
        var net = Small();
        net.Initialize();
        var e = Assert.Throws<ParameterException>(() => net.Set("L", "tau", -5e-3));
        Assert.That(e!.Message, Does.Contain("tau").And.Contain("> 0"));
        Assert.That(net["L"].Get("tau").item<float>(), Is.EqualTo(10e-3f), "old value kept");
        var e2 = Assert.Throws<ParameterException>(() => net.Set("S", "w", torch.ones(4, 4)));
        Assert.That(e2!.Message, Does.Contain("[3, 2]").And.Contain("[4, 4]"));
        StillRuns(net);
    }

    [Test]
    public void UnknownParameterNameListsTheKnownOnes()
    {
        var net = Small();
        var e = Assert.Throws<ParameterException>(() => net.Set("L", "tua", 1.0));
        Assert.That(e!.Message, Does.Contain("tau").And.Contain("thr"));
        Assert.Throws<ParameterException>(() => net.Monitor("L", "v"));
    }

    [Test]
    public void WrongInputShapeOrMissingInput()
    {
        var net = Small();
        var e = Assert.Throws<InputException>(() => net.Run(torch.ones(2, 5, 4)));
        Assert.That(e!.Group, Is.EqualTo("I"));
        Assert.That(e.Message, Does.Contain("[2, >= 5, 3]").And.Contain("[2, 5, 4]"));
        Assert.Throws<InputException>(() => net.Run(torch.ones(3, 5, 3)), "wrong batch");
        Assert.Throws<InputException>(() => net.Run(torch.ones(2, 4, 3), Schedule.Fixed(1e-3, 5)), "too few steps for the schedule");
        Assert.That(net.Run(torch.ones(2, 4, 3))["L"].shape[1], Is.EqualTo(4), "without a schedule the run lasts as long as the data");
        Assert.Throws<InputException>(() => net.Run(new Dictionary<string, Tensor>()), "no data");
        var nan = torch.ones(2, 5, 3);
        nan[0, 1, 2] = torch.tensor(float.NaN);
        Assert.Throws<InputException>(() => net.Run(nan));
        StillRuns(net);
    }

    [Test]
    public void ContinueBeforeRunOrWithoutEnoughData()
    {
        var net = Small();
        Assert.Throws<ShipException>(() => net.Continue());
        net.Run(torch.ones(2, 5, 3));
        var e = Assert.Throws<InputException>(() => net.Continue());
        Assert.That(e!.Message, Does.Contain("0 steps of data left"));
        StillRuns(net);
    }

    [Test]
    public void NeuronGroupNeedsPositiveSize()
    {
        var e = Assert.Throws<ParameterException>(() => new Lif(0));
        Assert.That(e!.Message, Does.Contain("N >= 1"));
    }

    [Test]
    public void EmptyNetworkAndBadBatch()
    {
        Assert.Throws<NetworkConfigurationException>(() => new Network().Initialize());
        var net = Small();
        net.BatchSize = 0;
        Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
    }

    [Test]
    public void RemoveDropsConnectionsAndOutputs()
    {
        var net = Small();
        net.Add("S2", new Dense(), "L", "L2");
        net.Add("L2", new Lif(3));
        net.MarkOutput("L2");
        net.Initialize();
        net.Remove("L2");
        net.Remove("S2");
        Assert.That(net.Outputs, Is.EqualTo(new[] { "L" }));
        Assert.That(net.Connections.Any(c => c.Source == "S2" || c.Target == "L2"), Is.False);
        StillRuns(net);
    }

    [Test]
    public void ZeroDelayRecurrentLoopAddsOneStepLag()
    {
        // I -> S -> L, and L -> R -> L (recurrent, zero delay). The loop must be cut once; L then reads R's previous output.
        const int steps = 30;
        var net = new Network { Steps = steps, Dt = 1e-3 };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Lif(1, tau: 10e-3, threshold: 0.9));
        net.Add("R", new Dense(torch.tensor(new float[] { 0.5f }).reshape(1, 1)), "L", "L");
        net.MarkOutput("L");
        var mon = net.Monitor("L", "u");
        var x = torch.full(1, steps, 1, 0.25f);
        var spikes = net.Run(x)["L"].data<float>().ToArray();
        Assert.That(net.CallOrder.ZeroDelayBackEdgeCount, Is.EqualTo(1));
        Assert.That(net.DescribeCallOrder(), Does.Contain("adds lag 1"));

        // Reference recurrence with the lag: input at step t = x + 0.5 · spike(t − 1).
        double beta = Math.Exp(-0.1), u = 0;
        bool integrate = true, prev = false;
        var us = mon.Values.data<float>().ToArray();
        for (int t = 0; t < steps; t++)
        {
            double v = integrate ? Math.Max(0, u * beta + 0.25 + (prev ? 0.5 : 0)) : 0;
            bool s = v >= 0.9;
            Assert.That(spikes[t] == 1f, Is.EqualTo(s), $"spike at step {t}");
            Assert.That(us[t], Is.EqualTo(v).Within(1e-5), $"u at step {t}");
            u = v; integrate = !s; prev = s;
        }
    }
}

/// Weights given as a scalar or a vector are expanded to one weight per connection, so every synapse model can use them.
public class WeightShapeTests
{
    [Test]
    public void ScalarAndVectorWeightsWorkInDenseSynapses()
    {
        var net = new Network { Steps = 3, BatchSize = 2 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(0.25), "I", "L");
        net.Add("L", new Ship.Tests.CustomModels.ExponentialIntegrator(2, tau: 1e-3));
        net.MarkOutput("L");
        var y = net.Run(torch.ones(2, 3, 3))["L"];
        Assert.That(net["S"].Get("w").shape, Is.EqualTo(new long[] { 3, 2 }));
        // First step: u = Σ_i 1·0.25 = 0.75.
        Assert.That(y[0, 0, 0].item<float>(), Is.EqualTo(0.75f).Within(1e-6));
        net.Set("S", "w", torch.tensor(new float[] { 1f, 2f }));  // per target
        var y2 = net.Run(torch.ones(2, 3, 3))["L"];
        Assert.That(y2[1, 0, 1].item<float>(), Is.EqualTo(6f).Within(1e-6));
    }
}
