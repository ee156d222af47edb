using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class PulseTests
{
    [Test]
    public void SoftBoundsFollowTheRecurrenceAndItsClosedForm()
    {
        const double dw = 0.01, wMin = -0.6, wMax = 0.6, w0 = -0.2;
        var model = new SoftBoundsPulses(dw, wMin, wMax);
        using var devices = new PulsedDevices(model, new long[] { 3 }, new torch.Generator(1), initial: w0);
        var up = devices.Apply(300, PulseDirection.Potentiation);
        var down = devices.Apply(200, PulseDirection.Depression);
        Assert.That(up.shape, Is.EqualTo(new long[] { 301, 3 }));
        double w = w0;
        for (int k = 0; k <= 300; k++)
        {
            double closed = wMax - (wMax - w0) * Math.Pow(1 - dw / wMax, k);
            Assert.That(w, Is.EqualTo(closed).Within(1e-12), "recurrence vs closed form");
            foreach (var v in Stat.D(up[k])) Assert.That(v, Is.EqualTo(w).Within(1e-12), $"after {k} up pulses");
            if (k < 300) w += dw * (1 - w / wMax);
        }
        for (int k = 0; k <= 200; k++)
        {
            foreach (var v in Stat.D(down[k])) Assert.That(v, Is.EqualTo(w).Within(1e-12), $"after {k} down pulses");
            if (k < 200) w += -dw * (1 - w / wMin);
        }
    }

    [Test]
    public void SoftBoundsSaturateMonotonically()
    {
        var model = new SoftBoundsPulses(0.02, -1, 1);
        using var devices = new PulsedDevices(model, new long[] { 1 }, new torch.Generator(1));
        var trace = Stat.D(devices.Apply(2000, PulseDirection.Potentiation));
        Assert.That(trace[0], Is.EqualTo(-1), "starts at w_min");
        for (int k = 1; k < trace.Length; k++)
        {
            Assert.That(trace[k], Is.GreaterThanOrEqualTo(trace[k - 1]));
            Assert.That(trace[k], Is.LessThanOrEqualTo(1));
            if (k > 1) Assert.That(trace[k] - trace[k - 1], Is.LessThanOrEqualTo(trace[k - 1] - trace[Math.Max(0, k - 2)] + 1e-15), "steps shrink");
        }
        Assert.That(trace[^1], Is.EqualTo(1).Within(1e-6), "saturates at w_max");
    }

    [Test]
    public void LinearStepWithZeroGammaIsAConstantStepUpToTheBound()
    {
        var model = new LinearStepPulses(dwMin: 0.05, wMin: -0.5, wMax: 0.5);
        using var devices = new PulsedDevices(model, new long[] { 2 }, new torch.Generator(1), initial: 0.1);
        var trace = devices.Apply(20, PulseDirection.Potentiation);
        for (int k = 0; k <= 20; k++)
            foreach (var v in Stat.D(trace[k])) Assert.That(v, Is.EqualTo(Math.Min(0.1 + k * 0.05, 0.5)).Within(1e-12));
        var gamma = new LinearStepPulses(dwMin: 0.05, wMin: -0.5, wMax: 0.5, gammaUp: 0.5);
        using var d2 = new PulsedDevices(gamma, new long[] { 1 }, new torch.Generator(1), initial: 0.1);
        var t2 = Stat.D(d2.Apply(10, PulseDirection.Potentiation));
        double w = 0.1;
        for (int k = 0; k <= 10; k++)
        {
            Assert.That(t2[k], Is.EqualTo(w).Within(1e-12));
            w = Math.Min(w + 0.05 * (1 - 0.5 * w / 0.5), 0.5);
        }
    }

    [Test]
    public void ExponentialStepFollowsAihwkitUpdateRule()
    {
        var model = new ExponentialStepPulses(dwMin: 0.01);
        using var devices = new PulsedDevices(model, new long[] { 1 }, new torch.Generator(1), initial: 0);
        var up = Stat.D(devices.Apply(100, PulseDirection.Potentiation));
        var down = Stat.D(devices.Apply(100, PulseDirection.Depression));
        double w = 0;
        double Z(double x) => 2 * 0.244 * x / 1.2 + 0.2425;
        for (int k = 0; k <= 100; k++)
        {
            Assert.That(up[k], Is.EqualTo(w).Within(1e-12), $"up {k}");
            if (k < 100) w = Math.Clamp(w + 0.01 * Math.Max(1 - 0.00081 * Math.Exp(12.44625 * Z(w)), 0), -0.6, 0.6);
        }
        for (int k = 0; k <= 100; k++)
        {
            Assert.That(down[k], Is.EqualTo(w).Within(1e-12), $"down {k}");
            if (k < 100) w = Math.Clamp(w - 0.01 * Math.Max(1 - 0.36833 * Math.Exp(-12.78785 * Z(w)), 0), -0.6, 0.6);
        }
    }

    [Test]
    public void DeviceSpreadAndCycleNoiseHaveTheGivenSize()
    {
        const int n = 20000;
        // Device-to-device: the first step from w = 0 is dw_min·(1 + 0.3 ξ) per device.
        var d2d = new SoftBoundsPulses(0.01, -0.6, 0.6, dwMinSpread: 0.3);
        using var pd = new PulsedDevices(d2d, new long[] { n }, new torch.Generator(5), initial: 0);
        var t = pd.Apply(2, PulseDirection.Potentiation);
        var first = Stat.D(t[1] - t[0]);
        Stat.MeanConsistent(first, 0.01, 0.003, "d2d step");
        Stat.SdConsistent(first, 0.003, "d2d step");
        var second = Stat.D(t[2] - t[1]);
        var again = Stat.D(pd.Apply(0, PulseDirection.Potentiation)); // zero pulses: only the current state
        Assert.That(again.Length, Is.EqualTo(n));
        // Each device keeps its own dw_min: its second step is its first times (1 − w1/w_max).
        var w1 = Stat.D(t[1]);
        for (int i = 0; i < n; i += 101) Assert.That(second[i], Is.EqualTo(first[i] * (1 - w1[i] / 0.6)).Within(1e-12));

        // Cycle-to-cycle: identical devices, each step scaled by (1 + 0.2 ξ), fresh at every pulse.
        var c2c = new SoftBoundsPulses(0.01, -0.6, 0.6, cycleNoise: 0.2);
        using var pc = new PulsedDevices(c2c, new long[] { n }, new torch.Generator(6), initial: 0.3);
        var tc = pc.Apply(2, PulseDirection.Potentiation);
        var s1 = Stat.D(tc[1] - tc[0]);
        double nominal = 0.01 * (1 - 0.3 / 0.6);
        Stat.MeanConsistent(s1, nominal, 0.2 * nominal, "c2c step");
        Stat.SdConsistent(s1, 0.2 * nominal, "c2c step");
        var z1 = s1.Select(v => v / nominal - 1).ToArray();
        var w1c = Stat.D(tc[1]);
        var z2 = Stat.D(tc[2] - tc[1]).Select((v, i) => v / (0.01 * (1 - w1c[i] / 0.6)) - 1).ToArray();
        double corr = z1.Zip(z2).Sum(p => p.First * p.Second) / Math.Sqrt(z1.Sum(v => v * v) * z2.Sum(v => v * v));
        Assert.That(Math.Abs(corr), Is.LessThan(4 / Math.Sqrt(n)), "cycle noise is drawn afresh at each pulse");
    }

    [Test]
    public void DeviceArrayPulsesMoveHealthyDevicesOnlyAndReadsStartFromThere()
    {
        var response = new SoftBoundsPulses(dwMin: 1e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6);
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new StuckAtFaults(0.1, 0.1)).WithPulses(response);
        var ctx = Stat.Ctx(51);
        var w = torch.zeros(30, 40);
        w[0, 0] = torch.tensor(1f);
        dev.Program(w, ctx);
        var mask = torch.zeros(2, 30, 40, dtype: ScalarType.Bool);
        mask[0] = torch.tensor(true); // pulse the G+ devices only
        var trace = dev.ApplyPulses(50, PulseDirection.Potentiation, ctx, mask);
        Assert.That(trace.shape, Is.EqualTo(new long[] { 51, 2, 30, 40 }));
        var stuck = Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64));
        var first = Stat.D(trace[0]);
        var last = Stat.D(trace[50]);
        // Reference form with r = 85 µS: Δw = dw·(1 − (w − 85)/(120 − 85)), from 50 µS (computed in µS, compared in S).
        double expected = 50;
        for (int k = 0; k < 50; k++) expected += 1 * (1 - (expected - 85) / 35);
        expected *= 1e-6;
        int half = 30 * 40;
        for (int i = 1; i < 2 * half; i++)
        {
            if (stuck[i] == 1) Assert.That(last[i], Is.EqualTo(first[i]), "stuck devices ignore pulses");
            else if (i < half) Assert.That(last[i], Is.EqualTo(expected).Within(1e-15), "pulsed G+");
            else Assert.That(last[i], Is.EqualTo(50e-6), "unpulsed G−");
        }
        Assert.That(Stat.D(dev.ReadConductances(ctx)), Is.EqualTo(last), "reads start from the pulsed state");
        Assert.Throws<ParameterException>(() => dev.ApplyPulses(-1, PulseDirection.Depression, ctx));
        var noPulses = MemristivePresets.ShipRram();
        noPulses.Program(w, ctx);
        Assert.That(Assert.Throws<ParameterException>(() => noPulses.ApplyPulses(1, PulseDirection.Potentiation, ctx))!.Parameter, Is.EqualTo("Pulses"));
    }

    [Test]
    public void PulseProgrammingLandsOnTheNominalTrajectory()
    {
        var response = new SoftBoundsPulses(dwMin: 0.5e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6);
        var programming = new PulseProgramming(response);
        var g = new torch.Generator(3);
        var w = torch.rand(new long[] { 20, 25 }, generator: g);
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), programming);
        var ctx = Stat.Ctx(52);
        dev.Program(w, ctx);
        // Nominal trajectory from 50 µS, computed here in µS; each device gets the pulse count nearest to its target.
        var traj = new List<double> { 50 };
        while (traj.Count < 10001 && traj[^1] < 120 - 1e-9) { double x = traj[^1]; traj.Add(Math.Min(x + 0.5 * (1 - (x - 85) / 35), 120)); if (traj[^1] - x < 1e-12 * 70) break; }
        var target = Stat.D(dev.State.Target).Select(v => v * 1e6).ToArray();
        var got = Stat.D(dev.State.Programmed).Select(v => v * 1e6).ToArray();
        for (int i = 0; i < target.Length; i++)
        {
            double best = traj.OrderBy(v => Math.Abs(v - target[i])).First();
            Assert.That(got[i], Is.EqualTo(best).Within(1e-8), $"target {target[i]} µS");
            Assert.That(Math.Abs(got[i] - target[i]), Is.LessThanOrEqualTo(0.5 * 2 / 2 + 1e-9), "error at most half a step");
        }
        // With device-to-device spread the same pulse counts give device-specific conductances.
        using var spread = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6),
            new PulseProgramming(new SoftBoundsPulses(0.5e-6, 50e-6, 120e-6, 85e-6, dwMinSpread: 0.2)));
        spread.Program(w, ctx);
        var errors = Stat.D(spread.State.Programmed - spread.State.Target);
        Assert.That(errors.Count(e => Math.Abs(e) > 0.6e-6), Is.GreaterThan(errors.Length / 4));
    }

    [Test]
    public void BadPulseParametersAreTypedErrors()
    {
        Assert.That(Assert.Throws<ParameterException>(() => new SoftBoundsPulses(dwMin: 0))!.Parameter, Is.EqualTo("dwMin"));
        Assert.That(Assert.Throws<ParameterException>(() => new SoftBoundsPulses(wMin: 0.6, wMax: -0.6))!.Parameter, Is.EqualTo("wMin/wMax"));
        Assert.That(Assert.Throws<ParameterException>(() => new SoftBoundsPulses(cycleNoise: -1))!.Parameter, Is.EqualTo("cycleNoise"));
        Assert.That(Assert.Throws<ParameterException>(() => new PulseProgramming(new SoftBoundsPulses(), 0))!.Parameter, Is.EqualTo("maxPulses"));
        using var pd = new PulsedDevices(new SoftBoundsPulses(), new long[] { 3 }, new torch.Generator(1));
        Assert.That(Assert.Throws<ParameterException>(() => pd.Apply(2, PulseDirection.Potentiation, torch.ones(4, dtype: ScalarType.Bool)))!.Parameter, Is.EqualTo("mask"));
    }
}
