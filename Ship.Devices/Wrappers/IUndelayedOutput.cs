using static TorchSharp.torch;

namespace Ship.Devices.Wrappers;

/// <summary>A group whose output lags its computation and that can show the undelayed value computed in the last step.</summary>
public interface IUndelayedOutput
{
    /// <summary>What the stack below produced in the last <c>Step</c>, before the delay; valid until the next step.</summary>
    Tensor UndelayedOutput { get; }
}
